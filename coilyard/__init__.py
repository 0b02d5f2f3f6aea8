"""coilyard: warehouse and intralogistics orchestration for nonferrous metal plants (composition package)."""

__version__ = "0.1.0"
