"""schemathesis hooks for scripts/api-conformance.

An empty path parameter names another route. The stateful phase takes response
fields as path parameters (an audit row's `storeId` and `fleetUpgradeId`, each
empty on rows of the other kind: openapi.yaml, AuditEvent), and the URL built from
an empty one loses its segment: `POST /api/fleet-upgrades/{id}/resume` with `id`
empty goes out as `POST /api/fleet-upgrades/resume`, which is the GET-only route
`/api/fleet-upgrades/{id}` and rightly answers 405, then judged against the resume
operation. The gateway answers `//` itself with 404. Such a case asks for a
resource no one has instead, so the request is the operation it is checked as.
"""

import schemathesis

ABSENT = "no-such-resource"


@schemathesis.hook
def before_call(context, case, kwargs):
    parameters = case.path_parameters
    if parameters:
        for name, value in list(parameters.items()):
            if value == "":
                parameters[name] = ABSENT
