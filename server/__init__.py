"""miniweb's bundled HTTP/1.1 server for any WSGI application (standard library only).

    listener (TCP, unix, systemd fds; TLS) ──► dispatcher (main thread: epoll, accept, TLS handshakes,
                            │                   deadlines, idle connections parked, request bodies received)
                            │ new or newly readable connection            ▲ idle again: park
                            ▼ queue.SimpleQueue                           │ queue + wake-up byte
                         worker threads (`threads` of them): per connection, while requests keep coming
                            bytes ──► http11 (sans-I/O parser) ──► RequestHead (+ BodyReader)
                                  ──► wsgi (environ) ──► app(environ, start_response)
                                  ──► wsgi_response (start_response, framing)
                                  ──► connection (the only recv/send/sendfile) ──► socket
    --workers N: the arbiter (server/arbiter.py) supervises N such processes on the shared listeners.

Library use:

    from server import Config, Server, serve
    serve(app, port=8899)                      # blocks; SIGINT/SIGTERM drain and return
    server = Server(app, Config(port=0))       # or: bind now (server.port), serve_forever() in a thread,
    server.shutdown()                          #     shutdown() from any thread
"""

from server.config import Config
from server.serving import Server, serve

__all__ = ["Config", "Server", "serve"]
