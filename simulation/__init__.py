"""The SimPy yard twin: runs the real wms, fleet and crane cores against simulated equipment."""
