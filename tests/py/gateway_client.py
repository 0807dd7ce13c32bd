#!/usr/bin/env python3
"""gateway_client.py - mlhep's gateway from Python with the standard library only.

    gateway_client.py URL TOKEN_FILE CA_FILE WORKFLOW.json MODEL REQUEST.json OUTDIR

Submits WORKFLOW.json, polls its status until it finishes, finds it in the job list,
reads its logs, downloads its artifacts into OUTDIR, then asks for a prediction of
MODEL for the TFaaS request REQUEST.json ({"keys": [...], "values": [...]}) twice: as
TFaaS (POST /json) and as KServe v2 (POST /v2/models/MODEL/infer, one row). Prints a
JSON summary. tests/cli/gateway_api.sh runs it; the README shows it as the Python
example.
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request


class Gateway:
    def __init__(self, url, token, cafile):
        self.url = url.rstrip("/")
        self.token = token
        self.tls = ssl.create_default_context(cafile=cafile)  # verifies the gateway

    def call(self, method, path, body=None, raw=False):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self.tls, timeout=60) as r:
                payload = r.read()
        except urllib.error.HTTPError as err:  # 4xx/5xx: the gateway says why
            raise SystemExit(f"{method} {path}: HTTP {err.code}: {err.read().decode()}")
        return payload if raw else json.loads(payload)


def main(url, token_file, ca_file, workflow, model, request, outdir):
    gw = Gateway(url, open(token_file).read().strip(), ca_file)
    job = gw.call("POST", "/v1/jobs", json.load(open(workflow)))["id"]
    while True:  # poll the status until the job has finished
        status = gw.call("GET", f"/v1/jobs/{job}")
        if status["state"] in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.2)
    listed = any(j["id"] == job for j in gw.call("GET", "/v1/jobs")["jobs"])
    logs = gw.call("GET", f"/v1/jobs/{job}/logs")["lines"]
    names = []
    for a in gw.call("GET", f"/v1/jobs/{job}/artifacts")["files"]:
        with open(os.path.join(outdir, a["name"]), "wb") as f:
            f.write(gw.call("GET", a["url"], raw=True))
        names.append(a["name"])
    # a prediction, TFaaS style: the answer is a bare array of the row's scores
    req = json.load(open(request))
    tfaas = gw.call("POST", "/json", {"keys": req["keys"], "values": req["values"], "model": model})
    # the same row as KServe v2 tensors: flat branches [1], jagged ones [1, L]
    inputs = []
    for k, v in zip(req["keys"], req["values"]):
        data = v if isinstance(v, list) else [v]
        shape = [1, len(data)] if isinstance(v, list) else [1]
        inputs.append({"name": k, "datatype": "FP64", "shape": shape, "data": data})
    v2 = gw.call("POST", f"/v2/models/{model}/infer", {"inputs": inputs})
    print(json.dumps({"job": job, "state": status["state"], "listed": listed, "log_lines": len(logs),
                      "artifacts": names, "tfaas": tfaas, "v2": v2["outputs"][0]["data"]}))


if __name__ == "__main__":
    main(*sys.argv[1:8])
