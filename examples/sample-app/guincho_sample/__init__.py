"""Sample Guincho Lacerda app: a Python standard-library service honouring the app contract."""
