"""The application stack of a server (CGV Art. 4): web server vhosts, TLS certificates."""
