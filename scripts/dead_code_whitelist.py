"""Names used where vulture cannot see them (the public API of a module, protocols,
settings read by client libraries from the environment)."""

import flask
from google.cloud.firestore_v1.types.document import Value

from cli import errors, openapi_diff
from cli.action.main import Action
from shared.config import Settings
from shared.packages import files
from shared.web import MatchRule

errors.EXIT_OK  # the exit status table, read as a whole
openapi_diff.is_breaking  # the module's API for scripts and tests
Settings.pubsub_emulator_host  # read by the Pub/Sub client from PUBSUB_EMULATOR_HOST
files._Pipe.writable  # io.RawIOBase protocol
MatchRule._compile_builder  # werkzeug's Rule.compile calls it
Action.do_create  # the Action's commands, dispatched by name from the `command` input
Action.do_update
Action.do_claim
Action.do_wait_for_approval
Action.do_rollback
Action.do_canary
flask.g.deployq_event_parsed  # read back with flask.g.get(...)
Value.null_value  # protobuf fields shared/store/writes.py sets (sent, not read back)
Value.boolean_value
Value.integer_value
Value.string_value
