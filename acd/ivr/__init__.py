"""IVR: flow model, YAML loader and validator, pure engine, registry with hot reload.

Read `acd.ivr.actions` for the engine <-> runner contract and `ivr_flows/README.md`
for the flow language.
"""
