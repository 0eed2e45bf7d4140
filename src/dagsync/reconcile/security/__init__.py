"""Security services of CGV Art. 4 « Gestion de la sécurité du serveur », on the engines made
for them: CrowdSec (attack detection and decision propagation), rendered from the model.

- `scope`: which servers share decisions (the CGV's propagation, as the model says);
- `credentials`: the agents' and bouncers' secrets, derived from one master secret;
- `crowdsec`: the configuration files, as pure functions of the model;
- `install`: the steps that put them on a host, check them with the tools' own test
  modes and start the daemons, as data.

See docs/security-services.md.
"""
