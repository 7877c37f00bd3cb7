"""Settings read from the environment: what a deployed function learns about itself."""
from chalicelib.core.settings import Settings


def test_checker_stage_in_another_region_is_checker_only():
    home = Settings.from_env({"AWS_REGION": "us-west-2"})
    remote = Settings.from_env({"AWS_REGION": "eu-west-1", "HOME_REGION": "us-west-2"})
    assert not home.checker_only and home.check_regions == ("us-west-2",)
    assert remote.checker_only and remote.aws_region == "us-west-2"
    assert remote.check_regions == ("eu-west-1",)      # it speaks for where it runs


def test_table_and_topic_names_come_from_the_environment():
    s = Settings.from_env({"STATE_TABLE": "t-state", "UPDATES_TOPIC_ARN": "arn:aws:sns:x:1:u",
                           "CHECK_REGIONS": "a, b"})
    assert (s.state_table, s.updates_topic_arn, s.check_regions) == ("t-state", "arn:aws:sns:x:1:u",
                                                                      ("a", "b"))
