"""In-memory fakes of every repository port, one module per service.

Each fake passes the same contract suite as its SQL adapter
(``tests/integration/test_repository_contracts.py``), so a unit test on a fake
sees what the service sees on PostgreSQL: copies in and out, the same order,
the same duplicates, version guards and errors. Each module also has the
service's fake unit of work, for handler tests.
"""
