"""bench/aws_meter.py bills DynamoDB calls made against moto as DynamoDB would: writes by the
larger of the old and new item per KB (twice in a transaction, even when a condition fails),
reads per 4 KB, half when eventually consistent, a Query rounded over everything it read."""
import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from bench.aws_meter import AwsMeter, item_size, number_size, read_units, write_units

TABLE = "meter-test"


def test_item_sizes_follow_dynamodbs_rules():
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert number_size("12345") == 4 and number_size("-0.00120") == 2 and number_size("0") == 2
    assert item_size({"b": {"B": b"\x00" * 10}}) == 1 + 10
    assert item_size({"b": {"B": "AAAA"}}) == 1 + 3                 # moto's base64 form
    assert item_size({"l": {"L": [{"S": "ab"}, {"BOOL": True}]}}) == 1 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"M": {"k": {"NULL": True}}}}) == 1 + 3 + 1 + 1 + 1
    assert write_units(0, 1) == 1 and write_units(1025, 10) == 2
    assert read_units(4096, True) == 1 and read_units(4097, True) == 2
    assert read_units(1, False) == 0.5


@pytest.fixture
def metered():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        meter = AwsMeter()
        meter.install()
        meter.phase = "t"
        try:
            yield client, meter
        finally:
            meter.uninstall()


def item(pk, kb):
    return {"pk": {"S": pk}, "doc": {"S": "x" * (kb * 1024 - 10)}}


def units(meter):
    return meter.take("t")["units"]


def test_writes_bill_the_larger_of_old_and_new(metered):
    client, meter = metered
    client.put_item(TableName=TABLE, Item=item("a", 3))
    assert units(meter)["write_units"] == 3
    client.put_item(TableName=TABLE, Item=item("a", 1))          # replaces 3 KB with 1 KB
    got = units(meter)
    assert got["write_units"] == 3 and got["write_bytes"] == item_size(item("a", 1))
    client.delete_item(TableName=TABLE, Key={"pk": {"S": "a"}})
    assert units(meter)["write_units"] == 1


def test_a_failed_condition_still_bills_and_a_transaction_bills_twice(metered):
    client, meter = metered
    client.put_item(TableName=TABLE, Item=item("a", 2))
    meter.take("t")
    with pytest.raises(ClientError):
        client.put_item(TableName=TABLE, Item=item("a", 1), ConditionExpression="attribute_not_exists(pk)")
    assert units(meter)["write_units"] == 2
    client.transact_write_items(TransactItems=[{"Put": {"TableName": TABLE, "Item": item("b", 1)}},
                                               {"Put": {"TableName": TABLE, "Item": item("c", 2)}}])
    assert units(meter)["write_units"] == 2 * 1 + 2 * 2


def test_reads_bill_per_4_kb_and_half_when_eventually_consistent(metered):
    client, meter = metered
    for pk in "abc":
        client.put_item(TableName=TABLE, Item=item(pk, 3))
    meter.take("t")
    client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}}, ConsistentRead=True)
    assert units(meter)["read_units"] == 1
    client.get_item(TableName=TABLE, Key={"pk": {"S": "a"}})
    assert units(meter)["read_units"] == 0.5
    client.get_item(TableName=TABLE, Key={"pk": {"S": "nope"}}, ConsistentRead=True)
    assert units(meter)["read_units"] == 1                        # a miss still costs
    client.scan(TableName=TABLE)                                 # 9 KB over all items: 3 x 4 KB
    assert units(meter)["read_units"] == 1.5
    client.batch_get_item(RequestItems={TABLE: {"Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "b"}}]}})
    got = meter.take("t")
    assert got["units"]["read_units"] == 1.0 and got["calls"] == {"dynamodb:BatchGetItem": 1}


def test_calls_outside_a_phase_are_not_counted(metered):
    client, meter = metered
    meter.phase = None
    client.put_item(TableName=TABLE, Item=item("a", 1))
    assert meter.take("t") == {"calls": {}, "units": {}, "puts": {}}
