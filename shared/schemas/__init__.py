"""Request and response shapes: pydantic models that validate what arrives and describe,
in each function's OpenAPI document, what leaves.

Routes name them as text (`"shared.schemas.deployment:DeploymentCreate"`), so a function
loads pydantic and a schema module on the first request that validates with it; the
statuses, tables and public views the services use at start are plain Python in
`shared.models`.
"""
