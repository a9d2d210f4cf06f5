"""Writes admin-v1.json, the admin API's OpenAPI document: `python3 generate.py`.

Edit this, not the JSON; a test in the control plane checks the document against the router."""
import json
R = lambda name: {"$ref": f"#/components/schemas/{name}"}
def arr(x): return {"type": "array", "items": x}
S = {"type": "string"}
DATE = {"type": "string", "format": "date", "description": "YYYY-MM-DD (UTC)"}
INT = {"type": "integer"}
def obj(props, required=(), extra=False, desc=None):
    o = {"type": "object", "properties": props, "required": list(required)}
    if not extra: o["additionalProperties"] = False
    if desc: o["description"] = desc
    return o

schemas = {
 "Problem": {"type": "object", "description": "RFC 9457 problem details", "properties": {"type": S, "title": S, "status": INT, "detail": S, "invalid_params": arr(obj({"name": S, "reason": S, "rule": S}, extra=True))}},
 "PartnerStatus": {"type": "string", "enum": ["proposed","due_diligence","sandbox","security_assessment","production","suspended","offboarded"]},
 "RiskTier": {"type": "string", "enum": ["low","medium","high"]},
 "Environment": {"type": "string", "enum": ["production","sandbox"]},
 "Partner": obj({"id": S, "name": S, "status": R("PartnerStatus"), "risk_tier": R("RiskTier"), "created_at": INT}, ["id","name","status","risk_tier","created_at"]),
 "PartnerCreate": obj({"id": {"type":"string","pattern":"^[a-z0-9][a-z0-9-]{1,63}$"}, "name": S, "risk_tier": R("RiskTier")}, ["id","name"]),
 "RiskTierChange": obj({"risk_tier": R("RiskTier"), "justification": S}, ["risk_tier","justification"]),
 "UseCase": obj({"business_objective": S, "data_elements": arr(S), "scopes": arr(S), "regulatory_constraints": arr(S), "success_criteria": arr(S)}, ["business_objective","data_elements","scopes","regulatory_constraints","success_criteria"]),
 "DueDiligence": obj({
    "questionnaire": {"type":"object","additionalProperties": S, "description": "question -> answer"},
    "certifications": arr(obj({"name": S, "issuer": S, "expires_on": DATE}, ["name","issuer","expires_on"])),
    "penetration_test": obj({"date": DATE, "outcome": {"type":"string","enum":["passed","failed"]}, "tester": S}, ["date","outcome","tester"])},
    ["questionnaire","certifications","penetration_test"]),
 "SecurityAssessment": obj({"assessor": S, "completed_on": DATE, "summary": S,
    "findings": arr(obj({"id": S, "severity": {"type":"string","enum":["low","medium","high","critical"]}, "title": S, "status": {"type":"string","enum":["open","remediated"]}, "remediation": S}, ["id","severity","title","status"]))},
    ["assessor","completed_on","summary","findings"]),
 "Contract": obj({"starts_on": DATE, "ends_on": DATE, "quota_per_day": INT, "quota_per_month": INT, "availability_target_percent": {"type":"number"}, "latency_p95_ms_target": INT, "access_hours_utc": {"type":"string","description":"HH:MM-HH:MM (UTC), may wrap past midnight; calls outside raise an off_hours alert"}}, ["starts_on","ends_on","availability_target_percent","latency_p95_ms_target"]),
 "Document": obj({"partner_id": S, "kind": {"type":"string","enum":["use_case","due_diligence","security_assessment","contract"]}, "document": {"type":"object"}, "updated_at": INT, "updated_by": S}, ["partner_id","kind","document","updated_at","updated_by"]),
 "SandboxEvidence": obj({"partner_id": S, "operations": arr(obj({"operation": S, "scope": S, "successes": INT, "errors": {"type":"object","additionalProperties": INT}, "errors_handled": INT}, extra=True)), "scopes_requested": arr(S), "scopes_exercised": arr(S), "scopes_missing": arr(S), "errors_handled": INT, "sufficient": {"type":"boolean"}, "missing": arr(S)}, extra=True, desc="Computed from the partner's sandbox traffic in the audit log; never entered by hand."),
 "Onboarding": obj({"partner_id": S, "status": R("PartnerStatus"), "next": R("PartnerStatus"), "missing": arr(S)}, ["partner_id","status","missing"], extra=True),
 "TransitionRequest": obj({"to": R("PartnerStatus"), "justification": S}, ["to","justification"]),
 "GrantPolicy": {"type":"object","description":"rate_limit, partner_rate_limit, quota, allowed_sources, fields, valid_from, valid_until (unix seconds)"},
 "Grant": obj({"partner_id": S, "environment": R("Environment"), "scopes": arr(S), "justifications": {"type":"object","additionalProperties": S}, "policy": R("GrantPolicy")}, ["partner_id","environment","scopes","justifications","policy"]),
 "GrantChange": obj({"scopes": arr(S), "justifications": {"type":"object","additionalProperties": S, "description":"scope -> why the partner needs it; required for every production scope"}, "policy": R("GrantPolicy"), "justification": S}, ["scopes"]),
 "Client": obj({"client_id": S, "partner_id": S, "environment": R("Environment"), "auth_method": {"type":"string","enum":["private_key_jwt","tls_client_auth"]}, "jwks": {"type":"object"}, "tls_subject_dn": S, "status": {"type":"string","enum":["active","suspended","revoked"],"description":"suspended: held by an automated response or an operator until reinstated"}, "created_at": INT, "expires_at": INT, "last_used_at": INT}, ["client_id","partner_id","environment","auth_method","status","created_at"], extra=True),
 "ClientCreate": obj({"partner_id": S, "environment": R("Environment"), "client_id": S, "auth_method": {"type":"string","enum":["private_key_jwt","tls_client_auth"]}, "jwks": {"type":"object"}, "tls_subject_dn": S, "lifetime_days": {"type":"integer","description":"production: at most the configured maximum (90 days by default), which is also the default; sandbox: no expiry when absent"}, "justification": {"type":"string","description":"required for production (it becomes the approval request's)"}}, ["partner_id","environment","auth_method"]),
 "ClientRotate": obj({"client_id": {"type":"string","description":"the new credential's id (generated when absent)"}, "jwks": {"type":"object"}, "tls_subject_dn": S, "lifetime_days": INT, "overlap_hours": {"type":"integer","description":"how long the old credential keeps working (default 24, at most 168)"}, "justification": S}),
 "Approval": obj({"id": S, "partner_id": S, "kind": {"type":"string","enum":["transition","grant","credential","risk_tier"]}, "change": {"type":"object"}, "status": {"type":"string","enum":["pending","approved","rejected","failed"]}, "requested_by": S, "requested_at": INT, "justification": S, "decided_by": S, "decided_at": INT, "decision_justification": S, "outcome": S}, ["id","partner_id","kind","change","status","requested_by","requested_at","justification"], extra=True),
 "Decision": obj({"justification": S}, ["justification"]),
 "Review": obj({"id": S, "partner_id": S, "status": {"type":"string","enum":["open","completed"]}, "opened_at": INT, "due_at": INT, "completed_at": INT, "reviewer": S, "decisions": arr(R("ReviewDecision"))}, ["id","partner_id","status","opened_at","due_at"], extra=True),
 "ReviewDecision": obj({"environment": R("Environment"), "decision": {"type":"string","enum":["keep","reduce","revoke"]}, "scopes": arr(S), "justification": S}, ["environment","decision","justification"]),
 "ReviewDecisions": obj({"decisions": arr(R("ReviewDecision"))}, ["decisions"]),
 "SweepResult": obj({"reviews_opened": arr(S), "partners_suspended": arr(S), "credentials_revoked": arr(S)}, extra=True),
 "SlaReport": {"type":"object","description":"Availability, p95 latency and quota use of one partner's production traffic over [from, to), against its contract."},
 "ComplianceReport": {"type":"object","description":"Which partners had which access in a period, granted when, approved by whom, reviewed when, used how much."},
 "Severity": {"type":"string","enum":["low","medium","high","critical"]},
 "AlertAction": obj({"id": S, "action": {"type":"string","enum":["notify","throttle","suspend_credential","block_source","open_incident"]}, "target": S, "dry_run": {"type":"boolean"}, "at_ms": INT, "until_ms": INT, "per_second": INT, "reverted_by": S, "error": S}, ["id","action","target","dry_run","at_ms"], extra=True),
 "Alert": obj({"id": S, "kind": {"type":"string","enum":["traffic_spike","auth_failure_burst","credential_stuffing","enumeration","operation_mix","unexpected_region","off_hours"]}, "severity": R("Severity"), "status": {"type":"string","enum":["open","acknowledged","closed"]},
    "subject": obj({"type": {"type":"string","enum":["partner","client","source"]}, "id": S}, ["type","id"]), "partner_id": S, "client_id": S, "source_ip": S, "summary": S,
    "evidence": obj({"count": INT, "window_seconds": INT, "threshold": {"type":"number"}, "baseline": {"type":"number"}, "sample_request_ids": arr(S), "details": {"type":"object"}}, ["count","window_seconds","threshold","sample_request_ids"], extra=True),
    "onset_ms": INT, "raised_at_ms": INT, "updated_at_ms": INT, "acknowledged_by": S, "closed_by": S, "note": S, "actions": arr(R("AlertAction")), "incident_id": S},
    ["id","kind","severity","status","subject","summary","evidence","onset_ms","raised_at_ms","updated_at_ms","actions"], extra=True),
 "AlertNote": obj({"note": {"type":"string","maxLength":4000}}),
 "Revert": obj({"justification": S}, ["justification"]),
 "Containment": obj({"blocked_sources": arr(arr({})), "throttled_partners": arr(arr({}))}, extra=True, desc="[address, until_ms] and [partner_id, requests per second, until_ms]"),
 "Incident": obj({"id": S, "title": S, "severity": R("Severity"), "major": {"type":"boolean"}, "personal_data_breach": {"type":"boolean"}, "status": {"type":"string","enum":["open","resolved"]}, "alert_ids": arr(S), "partner_id": S, "owner": S, "escalation_contacts": arr(S),
    "timeline": arr(obj({"stage": {"type":"string","enum":["detected","classified","contained","notified","resolved"]}, "at_ms": INT, "by": S, "note": S, "report": S}, ["stage","at_ms","by"], extra=True)),
    "clocks": arr(obj({"report": {"type":"string","enum":["dora_initial","dora_intermediate","dora_final","gdpr_breach"]}, "rule": S, "starts_at_ms": INT, "due_at_ms": INT, "met_at_ms": INT}, ["report","rule","starts_at_ms","due_at_ms"], extra=True)),
    "review_notes": S, "created_at_ms": INT, "updated_at_ms": INT}, ["id","title","severity","status","alert_ids","timeline","clocks"], extra=True,
    desc="The JSON export of an incident. Clocks: DORA initial notification 4 h, intermediate report 72 h and final report 30 days from classification as major; GDPR breach notice 72 h from detection."),
 "IncidentCreate": obj({"title": S, "severity": R("Severity"), "alert_ids": arr(S)}, ["title","severity"]),
 "IncidentUpdate": obj({"stage": {"type":"string","enum":["classified","contained","notified","resolved"]}, "note": S, "major": {"type":"boolean","description":"with stage classified"}, "personal_data_breach": {"type":"boolean"}, "report": {"type":"string","enum":["dora_initial","dora_intermediate","dora_final","gdpr_breach"],"description":"with stage notified"}, "owner": S, "escalation_contacts": arr(S), "severity": R("Severity"), "review_notes": S}),
}

def resp(code, desc, schema=None, media="application/json"):
    r = {"description": desc}
    if schema: r["content"] = {media: {"schema": schema}}
    return {str(code): r}
def errors(*codes):
    out = {}
    names = {400:"Malformed or invalid input",401:"No or unknown admin token",403:"The role may not do this (viewer and auditor change nothing), or the decider requested the change themselves",404:"Not found",409:"Conflicts with the current state (names what is missing)",503:"The change could not be recorded"}
    for c in codes: out.update(resp(c, names[c], R("Problem"), "application/problem+json"))
    return out
def body(schema): return {"required": True, "content": {"application/json": {"schema": schema}}}
P = lambda name, desc="": {"name": name, "in": "path", "required": True, "schema": S, **({"description": desc} if desc else {})}
Q = lambda name, desc, schema=S: {"name": name, "in": "query", "required": False, "schema": schema, "description": desc}

def op(opid, summary, roles, ok, req=None, params=(), errs=(400,401,403,404)):
    o = {"operationId": opid, "summary": summary, "description": f"Roles: {roles}.", "responses": {**ok, **errors(*errs)}}
    if req: o["requestBody"] = body(req)
    if params: o["parameters"] = list(params)
    return o

paths = {}
def add(path, method, o): paths.setdefault(path, {})[method] = o
pid = P("partner_id")
add("/admin/v1/health","get",{"operationId":"health","summary":"Whether the store answers (no authentication)","security":[],"responses":{**resp(200,"ok",obj({"status":S},extra=True)), **resp(503,"The store does not answer",R("Problem"),"application/problem+json")}})
add("/admin/v1/openapi.json","get",{"operationId":"openapi","summary":"This document (no authentication)","security":[],"responses":resp(200,"OpenAPI 3.1 document",{"type":"object"})})
add("/admin/v1/partners","get",op("listPartners","List partners","any",resp(200,"partners",arr(R("Partner"))),errs=(401,403)))
add("/admin/v1/partners","post",op("createPartner","Propose a partner (status proposed)","operator",resp(201,"created",R("Partner")),R("PartnerCreate"),errs=(400,401,403,409)))
add("/admin/v1/partners/{partner_id}","get",op("getPartner","One partner","any",resp(200,"partner",R("Partner")),params=[pid]))
add("/admin/v1/partners/{partner_id}/risk-tier","put",op("setRiskTier","Change the risk tier (sets the access-review interval): raising applies at once (200), lowering becomes an approval request (202)","operator",{**resp(200,"raised",R("Partner")),**resp(202,"approval requested",R("Approval"))},R("RiskTierChange"),[pid],errs=(400,401,403,404,409)))
add("/admin/v1/partners/{partner_id}/onboarding","get",op("getOnboarding","Where the partner stands and what the next step still needs","any",resp(200,"onboarding",R("Onboarding")),params=[pid]))
add("/admin/v1/partners/{partner_id}/transitions","post",op("requestTransition","Move the partner: promotions and reactivation become approval requests (202); suspension and offboarding apply at once (200)","operator",{**resp(202,"approval requested",R("Approval")),**resp(200,"applied",R("Partner"))},R("TransitionRequest"),[pid],errs=(400,401,403,404,409)))
for kind, path, schema, title in [("use_case","use-case","UseCase","use case"),("due_diligence","due-diligence","DueDiligence","due-diligence record"),("security_assessment","security-assessment","SecurityAssessment","security assessment"),("contract","contract","Contract","contract and SLA targets")]:
    camel = "".join(w.capitalize() for w in kind.split("_"))
    add(f"/admin/v1/partners/{{partner_id}}/{path}","get",op(f"get{camel}",f"The partner's {title}","any",resp(200,title,R("Document")),params=[pid]))
    add(f"/admin/v1/partners/{{partner_id}}/{path}","put",op(f"put{camel}",f"Record the partner's {title} (replaces it)","operator",resp(200,title,R("Document")),R(schema),[pid]))
add("/admin/v1/partners/{partner_id}/sandbox-evidence","get",op("getSandboxEvidence","Sandbox exit evidence computed from the partner's real sandbox traffic","any",resp(200,"evidence",R("SandboxEvidence")),params=[pid]))
add("/admin/v1/partners/{partner_id}/sla","get",op("getSlaReport","SLA report from real traffic over [from, to)","any",resp(200,"report",R("SlaReport")),params=[pid,Q("from","first day, YYYY-MM-DD",DATE),Q("to","day after the last, YYYY-MM-DD",DATE)],errs=(400,401,403,404,409)))
add("/admin/v1/partners/{partner_id}/grants","get",op("listGrants","The partner's grants","any",resp(200,"grants",arr(R("Grant"))),params=[pid]))
env = P("environment","production or sandbox")
add("/admin/v1/partners/{partner_id}/grants/{environment}","get",op("getGrant","One grant","any",resp(200,"grant",R("Grant")),params=[pid,env]))
add("/admin/v1/partners/{partner_id}/grants/{environment}","put",op("putGrant","Replace a grant: sandbox grants apply at once (200); production grants become approval requests (202)","operator",{**resp(200,"applied",R("Grant")),**resp(202,"approval requested",R("Approval"))},R("GrantChange"),[pid,env],errs=(400,401,403,404,409)))
add("/admin/v1/clients","get",op("listClients","List credentials","any",resp(200,"clients",arr(R("Client"))),params=[Q("partner_id","only this partner's")],errs=(400,401,403)))
add("/admin/v1/clients","post",op("createClient","Register a credential (JWKS or certificate subject): sandbox at once (201); production through approval (202), partner in production only, lifetime capped","operator",{**resp(201,"created",R("Client")),**resp(202,"approval requested",R("Approval"))},R("ClientCreate"),errs=(400,401,403,404,409)))
cid = P("client_id")
add("/admin/v1/clients/{client_id}","get",op("getClient","One credential","any",resp(200,"client",R("Client")),params=[cid]))
add("/admin/v1/clients/{client_id}/revoke","post",op("revokeClient","Revoke a credential; every gateway refuses its tokens within a second","operator",resp(200,"revoked",R("Client")),params=[cid],errs=(401,403,404)))
add("/admin/v1/clients/{client_id}/rotate","post",op("rotateClient","Replace a credential with a new key; the old one stays valid for the overlap window, then expires","operator",{**resp(201,"created",R("Client")),**resp(202,"approval requested",R("Approval"))},R("ClientRotate"),[cid],errs=(400,401,403,404,409)))
add("/admin/v1/approvals","get",op("listApprovals","Approval requests","any",resp(200,"approvals",arr(R("Approval"))),params=[Q("status","pending, approved, rejected or failed"),Q("partner_id","only this partner's")],errs=(400,401,403)))
aid = P("approval_id")
add("/admin/v1/approvals/{approval_id}","get",op("getApproval","One approval request","any",resp(200,"approval",R("Approval")),params=[aid]))
add("/admin/v1/approvals/{approval_id}/approve","post",op("approve","Approve and apply (never by its requester)","approver",resp(200,"decided",R("Approval")),R("Decision"),[aid],errs=(400,401,403,404,409)))
add("/admin/v1/approvals/{approval_id}/reject","post",op("reject","Reject (never by its requester)","approver",resp(200,"decided",R("Approval")),R("Decision"),[aid],errs=(400,401,403,404,409)))
add("/admin/v1/reviews","get",op("listReviews","Access reviews","any",resp(200,"reviews",arr(R("Review"))),params=[Q("partner_id","only this partner's"),Q("status","open or completed")],errs=(400,401,403)))
rid = P("review_id")
add("/admin/v1/reviews/{review_id}","get",op("getReview","One access review","any",resp(200,"review",R("Review")),params=[rid]))
add("/admin/v1/reviews/{review_id}/decisions","post",op("decideReview","Decide every grant of the review: keep, reduce (to the scopes given) or revoke; schedules the next review","approver",resp(200,"completed",R("Review")),R("ReviewDecisions"),[rid],errs=(400,401,403,404,409)))
add("/admin/v1/governance/sweep","post",op("sweep","Run the scheduled governance checks now: open due reviews, suspend partners whose review is overdue past the grace period, revoke dormant credentials","operator",resp(200,"what was done",R("SweepResult")),errs=(401,403)))
add("/admin/v1/reports/compliance","get",op("complianceReport","Compliance report for [from, to) as JSON or HTML","auditor",{"200":{"description":"report","content":{"application/json":{"schema":R("ComplianceReport")},"text/html":{"schema":S}}}},params=[Q("from","first day, YYYY-MM-DD",DATE),Q("to","day after the last, YYYY-MM-DD",DATE),Q("format","json (default) or html")],errs=(400,401,403)))
add("/admin/v1/audit/checkpoint","get",op("auditCheckpoint","The latest signed checkpoint","auditor",resp(200,"checkpoint",{"type":"object"}),errs=(401,403,404)))
add("/admin/v1/audit/proofs/inclusion","get",op("auditInclusionProof","RFC 9162 inclusion proof","auditor",resp(200,"proof",{"type":"object"}),params=[Q("index","leaf index",INT),Q("tree_size","tree size",INT)],errs=(400,401,403)))
add("/admin/v1/audit/proofs/consistency","get",op("auditConsistencyProof","RFC 9162 consistency proof","auditor",resp(200,"proof",{"type":"object"}),params=[Q("first","older tree size",INT),Q("second","newer tree size",INT)],errs=(400,401,403)))
add("/admin/v1/audit/events","get",op("auditEvents","Query the audit log (the read is itself audited)","auditor",{"200":{"description":"events","content":{"application/json":{"schema":arr({"type":"object"})},"application/jsonl":{"schema":S},"text/plain":{"schema":S}}}},params=[Q("partner_id",""),Q("client_id",""),Q("action",""),Q("kind",""),Q("from_ms","",INT),Q("to_ms","",INT),Q("limit","",INT),Q("format","json, jsonl or cef")],errs=(400,401,403)))

readers = "viewer, auditor, operator, approver"
alid, acid, inid = P("alert_id"), P("action_id"), P("incident_id")
add("/admin/v1/alerts","get",op("listAlerts","Alerts, newest first","any",resp(200,"alerts",obj({"alerts": arr(R("Alert"))}, extra=True)),params=[Q("status","open, acknowledged or closed"),Q("kind","an alert kind"),Q("partner_id",""),Q("min_severity","low, medium, high or critical"),Q("since_ms","raised at or after",INT),Q("limit","1 to 1000 (default 100)",INT)],errs=(400,401,403,404)))
add("/admin/v1/alerts/{alert_id}","get",op("getAlert","One alert with its evidence and the actions taken","any",resp(200,"alert",R("Alert")),params=[alid]))
add("/admin/v1/alerts/{alert_id}/acknowledge","post",op("acknowledgeAlert","Acknowledge an alert","operator",resp(200,"acknowledged",R("Alert")),R("AlertNote"),[alid],errs=(400,401,403,404,409)))
add("/admin/v1/alerts/{alert_id}/close","post",op("closeAlert","Close an alert (a recurrence alerts again at once)","operator",resp(200,"closed",R("Alert")),R("AlertNote"),[alid],errs=(400,401,403,404,409)))
add("/admin/v1/responses/{action_id}/revert","post",op("revertResponse","Undo an automated response: lift a block or a throttle, reinstate a suspended credential","operator",resp(200,"reverted",obj({"alert": R("Alert"), "reverted": R("AlertAction")}, extra=True)),R("Revert"),[acid],errs=(400,401,403,404,409)))
add("/admin/v1/containment","get",op("getContainment","Source addresses blocked and partners throttled now","any",resp(200,"containment",R("Containment")),errs=(401,403,404)))
add("/admin/v1/incidents","get",op("listIncidents","Incidents, newest first","any",resp(200,"incidents",obj({"incidents": arr(R("Incident"))}, extra=True)),params=[Q("open","only open ones",{"type":"boolean"})],errs=(400,401,403,404)))
add("/admin/v1/incidents","post",op("openIncident","Open an incident by hand, linking alerts","operator",resp(201,"opened",R("Incident")),R("IncidentCreate"),errs=(400,401,403,404)))
add("/admin/v1/incidents/{incident_id}","get",op("getIncident","One incident, whole: the JSON export","any",resp(200,"incident",R("Incident")),params=[inid]))
add("/admin/v1/incidents/{incident_id}/updates","post",op("updateIncident","Record a stage (classified with major, contained, notified with its report, resolved) or details (owner, contacts, severity, personal-data breach, review notes)","operator",resp(200,"updated",R("Incident")),R("IncidentUpdate"),[inid],errs=(400,401,403,404)))
add("/metrics","get",op("metrics","Prometheus metrics (text exposition format 0.0.4); label values are bounded","any",resp(200,"metrics",S,"text/plain"),errs=(401,403,404)))

doc = {"openapi":"3.1.0","info":{"title":"Portcullis admin API","version":"1","description":"The control plane: partners and their onboarding, evidence, maker-checker approvals, grants, credentials, access reviews, contracts, reports, the audit log, and monitoring (alerts, automated responses, incidents, metrics). Every change is an audit event. Errors are application/problem+json. Times named *_at, valid_from and valid_until are Unix seconds; *_ms are Unix milliseconds; dates are YYYY-MM-DD (UTC). Roles: viewer reads; auditor reads, and also the audit log and reports; operator makes changes and files requests; approver decides requests and access reviews (never their own requests); admin may do everything. Any change (any method but GET) by viewer or auditor is refused with 403 before its body is read. Changes the store cannot take or the audit log cannot record are answered 503."},
  "servers":[{"url":"/"}],
  "security":[{"adminToken":[]}],
  "components":{"securitySchemes":{"adminToken":{"type":"http","scheme":"bearer","description":"An admin token (pcadm_...), stored hashed; its role decides what it may do."}},"schemas":schemas},
  "paths":paths}
import os
json.dump(doc, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "admin-v1.json"), "w"), indent=1)
print(len(paths), sum(len(v) for v in paths.values()))
