"""The handler on moto's in-process DynamoDB: API Gateway events through the real
lambda_handler (tests/conftest.py's ``api``, ``ddb``, ``module_moto_world``), no network.
Pure functions with neither moto nor the handler are in tests/unit."""
