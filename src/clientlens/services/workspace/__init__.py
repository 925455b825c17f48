"""The workspace: its folder and settings, the public Python API (``jobs``), runs
recorded in the application database, and the Parquet lake the Spark engine reads.
"""
