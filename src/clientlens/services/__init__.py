"""Services: what clientlens does, by context. Faces call these; these call the
compiler, the definitions, the model and the engine interface.

    workspace/     the workspace folder, the public Python API (jobs), recorded runs,
                   the Parquet lake for Spark
    ingest/        bank exports into the warehouse: reading, checks, import, and the
                   application database's operational records
    profiling/     the nightly job: profiles, history, explanations, entitlements,
                   the dictionary for staff, in-memory lookups of one snapshot
    analytics/     over stored snapshots: migration matrices, KPIs, customer lists
    models/        statistical models fitted on the bank's data: BG/NBD activity,
                   credit scorecards
    relationship/  one customer's relationship: recovery cases, departures,
                   re-evaluation on demand
    programmes/    member-get-member referral programmes and their ledger

New contexts (campaigns and the contact policy, rule governance) get their own
subpackage beside these; see docs/architecture.md.
"""
