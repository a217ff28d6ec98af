import functools
import http.server
import os
import pathlib
import threading

import pytest

import dark

DEVICES = ["cpu"] + (["cuda"] if dark._backend.cuda_available() else [])


@pytest.fixture(params=["cpu", "cuda"])
def device(request):
    """Every test that touches tensors runs on each device present; 'cuda' skips without a
    GPU (and CuPy)."""
    if request.param == "cuda" and "cuda" not in DEVICES:
        pytest.skip("CUDA is not available (no CuPy or no GPU)")
    return request.param


@pytest.fixture
def data_root():
    """The folder with MNIST/ and FashionMNIST/ (DARK_DATA, or ../shared/data beside the repo)."""
    root = os.environ.get("DARK_DATA") or str(
        pathlib.Path(__file__).resolve().parents[2] / "shared" / "data")
    if not pathlib.Path(root, "MNIST", "raw").is_dir():
        pytest.skip(f"MNIST files not found under {root} (set DARK_DATA)")
    return root


class _Handler(http.server.SimpleHTTPRequestHandler):
    requests: list

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requests.append(self.path)
        if self.path.startswith("/short/"):
            # Announces more bytes than it sends, then hangs up.
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on tmp_path/www (paths under /short/ send less than they
    announce); yields (base URL without the final slash, list of requested paths)."""
    www = tmp_path / "www"
    www.mkdir()
    requests = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(www)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    httpd.shutdown()
    httpd.server_close()
