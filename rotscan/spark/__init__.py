"""Everything that touches Spark's JVM: building the session (``session``), the jar cache
(``jars``), Java-to-rotscan error translation (``errors``), ``rotscan doctor`` (``doctor``), Hadoop
storage and the profile pass. Importing this package starts no JVM and does not import pyspark.
"""
