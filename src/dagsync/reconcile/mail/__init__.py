"""The shared mail hosts' driver (CGV Art. 4 messagerie): rendered Dovecot/Postfix files,
the resource, and the usage figures."""
