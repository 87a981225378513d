#!/usr/bin/env python3
"""A stand-in for a host's migrator agent API (CONTRACT-issue9.md), for
scenarios about orchestratord's REST API that need migrations to end without
the lab's libvirt hosts (kubectl-verbs).  It speaks the job API at the seam
the unit tests fake: POST /v1/jobs answers the job Succeeded at once (a
prepare with the migration address, a migrate with its stats), GET
/v1/jobs/ID answers it again, ?watch=true sends it as one line.  Nothing is
migrated; the REST side of a migration is what is under test.

    stub-agent.py PORT [FAIL_TYPE]   FAIL_TYPE: a job type that ends Failed;
                                     prints the port (PORT 0: a free one)

A migrate job stays Running for STUB_MIGRATE_S seconds (default 2), so that
clients see the migration in flight.
"""
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
FAIL = sys.argv[2] if len(sys.argv) > 2 else ""
MIGRATE_S = float(os.environ.get("STUB_MIGRATE_S", "2"))
JOBS = {}
DONE_AT = {}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def current(jid):
    """The job as it is now: a migrate job Running until its time is up."""
    job = dict(JOBS[jid])
    if time.time() < DONE_AT.get(jid, 0):
        job["state"] = "Running"
        for k in ("result", "finishedAt"):
            job.pop(k, None)
        job["progress"] = {"dataTotal": 1, "dataProcessed": 0, "dataRemaining": 1,
                           "iteration": 1, "mode": "PreCopy", "timeElapsedMs": 1}
    return job


def finish(req):
    job = dict(req)
    job.update(createdAt=now(), startedAt=now(), finishedAt=now())
    if req.get("type") == FAIL:
        job.update(state="Failed",
                   error={"reason": "MigrationFailed", "message": "stub agent: told to fail"})
        return job
    job["state"] = "Succeeded"
    t = req.get("type")
    if t == "prepare":
        job["result"] = {"migrationAddress": "127.0.0.1", "port": 49152,
                         "migrationURI": "tcp://127.0.0.1:49152",
                         "destLibvirtURI": "qemu+tcp://127.0.0.1/system"}
    elif t == "migrate":
        job["result"] = {"downtimeMs": 1, "timeElapsedMs": 5, "dataTotal": 1, "mode": "PreCopy"}
        job["progress"] = {"dataTotal": 1, "dataProcessed": 1, "dataRemaining": 0,
                           "iteration": 1, "mode": "PreCopy", "timeElapsedMs": 5}
    elif t == "abort":
        job.update(state="Failed", error={"reason": "TooLate", "message": "already migrated"})
    else:
        job["result"] = {}
    return job


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, doc):
        body = (json.dumps(doc) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.reply(400, {"kind": "Status", "message": "bad body"})
        jid = req.get("id", "")
        if jid in JOBS:
            return self.reply(200, current(jid))
        JOBS[jid] = finish(req)
        if req.get("type") == "migrate":
            DONE_AT[jid] = time.time() + MIGRATE_S
        self.reply(202, current(jid))

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/v1/jobs":
            return self.reply(200, {"items": [current(j) for j in JOBS]})
        jid = path[len("/v1/jobs/"):] if path.startswith("/v1/jobs/") else None
        if jid not in JOBS:
            return self.reply(404, {"kind": "Status", "code": 404, "message": "no job"})
        if "watch=true" in query:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            while True:
                job = current(jid)
                line = (json.dumps({"type": "MODIFIED", "object": job}) + "\n").encode()
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                self.wfile.flush()
                if job["state"] in ("Succeeded", "Failed"):
                    break
                time.sleep(max(0.05, DONE_AT[jid] - time.time()))
            self.wfile.write(b"0\r\n\r\n")
            return None
        return self.reply(200, current(jid))

    def log_message(self, fmt, *args):
        sys.stderr.write("stub-agent: " + (fmt % args) + "\n")


SERVER = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
# PORT 0 picks a free one: say which, for the caller.
print(SERVER.server_address[1], flush=True)
SERVER.serve_forever()
