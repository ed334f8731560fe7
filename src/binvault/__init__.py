"""binvault: a JSONBin v3 compatible store of versioned JSON documents on AWS serverless."""

__version__ = "0.1.0"
