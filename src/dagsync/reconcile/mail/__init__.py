"""The shared mail hosts' driver (CGV Art. 4 messagerie): rendered Dovecot/Postfix files
(`files`), the resource (`resource`: desired, read, diff, and the plan and apply over the
hosts), the executor of a change on one host (`apply`), and the usage figures (`usage`)."""
