"""The browser fixture drives Debian's Chromium: a page served on loopback renders and clicks."""

import http.server
import threading


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (
            b"<!doctype html><title>t</title><button id=b onclick=\"this.textContent='clicked'\">"
            b"click</button>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_chromium_renders_and_clicks(page):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.click("#b")
        assert page.text_content("#b") == "clicked"
        assert "HeadlessChrome" in page.evaluate("navigator.userAgent")
    finally:
        server.shutdown()
