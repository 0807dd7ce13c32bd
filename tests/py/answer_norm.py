"""answer_norm.py - a prediction answer without the worker's timing, for the tests that
compare answers (batch_mix.py, rpcbatch_call.py): elapsed_us in a JSON answer, the float32
at offset 16 of a binary response "MLHR" (common/infer/colreq.c, colresp_write), which
differ from one call to the next. Standard library only."""
import json


def norm(body):
    if body[:1] == b"{":
        try:
            d = json.loads(body)
            d.pop("elapsed_us", None)
            return json.dumps(d, sort_keys=True).encode()
        except ValueError:
            return body
    if body[:4] == b"MLHR" and len(body) >= 20:
        return body[:16] + bytes(4) + body[20:]
    return body
