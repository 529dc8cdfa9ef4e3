"""An HTTP server for warden's probe tests that reports, per connection,
whether the client closed cleanly or reset the connection. It answers in two
writes (the headers, then, 20 ms later, the body), so a client that closes
after the status line has unread data and resets. Prints CLEAN or RESET per
connection, flushed. Loopback only; ends after 200 connections."""
import socket
import sys
import time

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", int(sys.argv[1])))
server.listen(16)
print("listening", flush=True)
for _ in range(200):
    conn, _ = server.accept()
    conn.settimeout(5)
    try:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                break
            request += chunk
        body = b"ok " * 2000
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
        time.sleep(0.02)
        conn.sendall(body)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(4096):
            pass
        print("CLEAN", flush=True)
    except socket.timeout:
        print("TIMEOUT", flush=True)
    except OSError:
        # ECONNRESET, EPIPE, or ENOTCONN after a reset.
        print("RESET", flush=True)
    finally:
        conn.close()
