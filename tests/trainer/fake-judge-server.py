#!/usr/bin/env python3
"""fake-judge-server.py — a stand-in for an OpenAI-compatible vision chat server.

    fake-judge-server.py LOG_FILE

Listens on 127.0.0.1 on a free port, prints "PORT <n>" on stdout, and serves
POST /v1/chat/completions until its stdin closes (so it dies with the test
that started it).  Only the Python standard library is used.

Every request is checked like a real server would (model, two PNG data-URL
images then the prompt text; a malformed request gets HTTP 400) and logged as
one JSON line in LOG_FILE, written before the answer is sent, with: mode,
group, the prompt text, temperature, logprobs, top_logprobs, the Authorization
header, each image's size and mean value, and `peak`: the most requests of the
same group that were in flight at once while this one was.

The request's "model" field picks the behaviour, "MODE[:ARG][#TAG]" (the whole
string is the group):
  normal       answers round(5 · mean of the edited image), e.g. "4"
  verbose      the same number in a sentence: "I would rate this edit 4 out of 5."
  logprobs     answers "3"; with logprobs requested, the first token's
               top_logprobs are 3: 0.5, 4: 0.3, " 2": 0.15, "Hello": 0.05
  garbage      "I cannot rate images." (no number)
  garbage-once garbage on the first request of each prompt, then normal
  notjson      HTTP 200 with an HTML body
  slow:S       sleeps S seconds, then normal
  http500      HTTP 500 with a JSON error
  http500-once HTTP 500 on the first request of each prompt, then normal
  http404      HTTP 404 (unknown model)
  close        reads the request, closes the connection without answering
  close-once   closes on the first request of each prompt, then normal
"""
import base64
import http.server
import json
import math
import os
import socketserver
import struct
import sys
import threading
import time
import zlib

LOCK = threading.Lock()
ACTIVE = []            # records of requests in flight
SEEN = {}              # (group, prompt) -> requests so far, for the *-once modes
LOG_PATH = None

LOGPROBS = [("3", 0.5), ("4", 0.3), (" 2", 0.15), ("Hello", 0.05)]


def decode_png(data):
    """8-bit RGB, non-interlaced PNG bytes -> (width, height, mean value in [0, 255])."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", None
    while pos < len(data):
        (n,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if (depth, color, interlace) != (8, 2, 0):
                raise ValueError(f"unexpected PNG format depth={depth} color={color} interlace={interlace}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, bpp = zlib.decompress(idat), width * 3, 3
    prev, total = bytearray(stride), 0
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            elif ftype != 0:
                raise ValueError(f"bad PNG filter {ftype}")
        total += sum(line)
        prev = line
    return width, height, total / (width * height * 3)


def check_request(req):
    """The prompt text and [(w, h, mean)] of the two images; ValueError if malformed."""
    if not isinstance(req.get("model"), str) or not req["model"]:
        raise ValueError("model missing")
    msgs = req.get("messages")
    if not isinstance(msgs, list) or len(msgs) != 1 or msgs[0].get("role") != "user":
        raise ValueError("expected one user message")
    content = msgs[0].get("content")
    if not isinstance(content, list) or [c.get("type") for c in content] != ["image_url", "image_url", "text"]:
        raise ValueError("expected content [image_url, image_url, text]")
    images = []
    for c in content[:2]:
        url = c["image_url"]["url"]
        prefix = "data:image/png;base64,"
        if not url.startswith(prefix):
            raise ValueError("image is not a PNG data URL")
        images.append(decode_png(base64.b64decode(url[len(prefix):], validate=True)))
    return content[2]["text"], images


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

    def log_message(self, *args):  # quiet
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode() if not isinstance(obj, bytes) else obj
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if not isinstance(obj, bytes) else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        raw = self.rfile.read(length)
        if self.path != "/v1/chat/completions":
            return self.send_json(404, {"error": {"message": f"no route {self.path}"}})
        try:
            req = json.loads(raw)
            text, images = check_request(req)
        except (ValueError, KeyError, TypeError) as e:
            return self.send_json(400, {"error": {"message": f"bad request: {e}"}})

        group = req["model"]
        mode, _, arg = group.split("#")[0].partition(":")
        rec = {"group": group, "peak": 0}
        with LOCK:
            ACTIVE.append(rec)
            same = [r for r in ACTIVE if r["group"] == group]
            for r in same:
                r["peak"] = max(r["peak"], len(same))
            nth = SEEN.get((group, text), 0)
            SEEN[(group, text)] = nth + 1
        try:
            self.answer(req, mode, arg, text, images, nth, rec)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to do
        finally:
            with LOCK:
                ACTIVE.remove(rec)

    def log_request_line(self, req, mode, text, images, rec, status):
        entry = {
            "mode": mode, "group": rec["group"], "text": text, "status": status,
            "temperature": req.get("temperature"), "logprobs": req.get("logprobs", False),
            "top_logprobs": req.get("top_logprobs"), "max_tokens": req.get("max_tokens"),
            "auth": self.headers.get("Authorization"),
            "images": [{"width": w, "height": h, "mean": m} for w, h, m in images],
        }
        with LOCK:
            entry["peak"] = rec["peak"]
            with open(LOG_PATH, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def answer(self, req, mode, arg, text, images, nth, rec):
        if mode == "slow":
            time.sleep(float(arg))
            mode = "normal"
        if mode.endswith("-once"):
            mode = mode[:-5] if nth == 0 else "normal"
        if mode == "close":
            self.log_request_line(req, mode, text, images, rec, "closed")
            self.close_connection = True
            return
        if mode in ("http500", "http404"):
            code = int(mode[4:])
            self.log_request_line(req, mode, text, images, rec, code)
            return self.send_json(code, {"error": {"message": f"fake error {code}", "code": code}})
        if mode == "notjson":
            self.log_request_line(req, mode, text, images, rec, 200)
            return self.send_json(200, b"<html><body>Bad gateway, sort of</body></html>")

        score = round(5 * images[1][2] / 255)
        logprobs = None
        if mode in ("normal", "slow"):
            content = str(score)
        elif mode == "verbose":
            content = f"I would rate this edit {score} out of 5."
        elif mode == "garbage":
            content = "I cannot rate images."
        elif mode == "logprobs":
            content = "3"
            if req.get("logprobs"):
                top = [{"token": t, "logprob": math.log(p), "bytes": list(t.encode())} for t, p in LOGPROBS]
                logprobs = {"content": [{"token": "3", "logprob": math.log(0.5), "bytes": [51],
                                         "top_logprobs": top[:req.get("top_logprobs") or 0]}]}
        else:
            return self.send_json(400, {"error": {"message": f"unknown fake mode {mode}"}})
        self.log_request_line(req, mode, text, images, rec, 200)
        self.send_json(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
            "model": req["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": logprobs, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main():
    global LOG_PATH
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    LOG_PATH = sys.argv[1]
    server = Server(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # Live as long as the parent holds our stdin open.
    try:
        sys.stdin.buffer.read()
    except KeyboardInterrupt:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
