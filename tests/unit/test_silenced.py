"""Pure: which components are under maintenance now, from the status file and the API alike."""
from chalicelib.core.model import MaintenanceWindow
from chalicelib.core.windows import silenced

NOW = 1_780_000_000.0


def mx(status, start, end, components=("api",), auto=True, **extra):
    return {"id": f"mx-{status}", "kind": "scheduled", "status": status,
            "scheduled_for": NOW + start, "scheduled_until": NOW + end,
            "scheduled_auto_in_progress": auto, "scheduled_auto_completed": auto,
            "component_ids": list(components), **extra}


def test_in_progress_and_verifying_maintenance_silence_their_components():
    assert silenced((), [mx("in_progress", -60, 600)], NOW) == {"api"}
    assert silenced((), [mx("verifying", -60, 600, ("api", "web"))], NOW) == {"api", "web"}


def test_one_the_scheduler_is_about_to_start_already_silences():
    assert silenced((), [mx("scheduled", -5, 600)], NOW) == {"api"}
    assert silenced((), [mx("scheduled", 5, 600)], NOW) == set()              # not yet
    assert silenced((), [mx("scheduled", -5, 600, auto=False)], NOW) == set()  # a human starts it


def test_over_completed_deleted_and_incidents_silence_nothing():
    docs = [mx("in_progress", -600, -1),                       # the clock completes it now
            mx("completed", -600, 600),
            mx("in_progress", -60, 600, deleted_at=NOW - 1),
            {"id": "inc", "kind": "realtime", "status": "investigating",
             "component_ids": ["api"]}]
    assert silenced((), docs, NOW) == set()
    # an operator who keeps it running past its end (no auto-complete) keeps the silence
    assert silenced((), [mx("in_progress", -600, -1, auto=False)], NOW) == {"api"}


def test_status_file_windows_and_api_maintenance_are_one_set():
    window = MaintenanceWindow(id="w", name="Upgrade", components=("web",), start=NOW - 10,
                               end=NOW + 10)
    assert silenced((window,), [mx("in_progress", -60, 600)], NOW) == {"api", "web"}
