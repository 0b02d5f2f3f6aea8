from coilyard.cli import main

main()
