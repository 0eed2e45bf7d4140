"""The record of a CGV sentence no rule checks (`Uncheckable`), the reason shared by the legal
clauses, and the unchecked sentences of Articles 1 to 5 (application, object, information, the
service's conditions, DAG Technologies' obligations); `dagsync.rules.uncheckable` completes the
table with the client's obligations, the term, prices, changes and the law (Articles 6 to 11).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Uncheckable:
    article: str
    sentence: str
    reason: str


LEGAL = "A legal or commercial clause: it binds the parties, not a configuration."

ARTICLES_1_TO_5: tuple[Uncheckable, ...] = (
    Uncheckable(
        "1",
        "Les présentes conditions générales sont applicables à la fourniture d'une prestation "
        "d'infogérance d'un ou plusieurs serveurs pris en location ou appartenant au Client. En "
        "conséquence, le fait de passer commande implique l'adhésion entière et sans réserve du "
        "Client aux présentes conditions générales.",
        "Scope of the CGV. What the repository checks: each contract names the CGV version it was"
        " signed under (`contract.cgv_version`, REP009) and is judged by that version.",
    ),
    Uncheckable(
        "1",
        "Aucune autre condition ne peut, sauf acceptation formelle et écrite de DAG Technologies,"
        " prévaloir sur les présentes conditions générales.",
        "The written acceptance is a signed document outside git. What the repository checks: "
        "every value that departs from a CGV default cites a recorded client request (`request: "
        "REQ-...`, REQ001 to REQ004 and each derogable rule).",
    ),
    Uncheckable(
        "1",
        "Le fait que DAG Technologies ne se prévale pas à un moment donné de l'une des présentes "
        "conditions générales et/ou tolère un manquement par le Client à l'une de ses obligations"
        " visées dans les présentes conditions générales ne peut être interprété comme valant "
        "renonciation par DAG Technologies à se prévaloir ultérieurement de l'intégralité "
        "desdites conditions.",
        LEGAL,
    ),
    Uncheckable(
        "2",
        "Les présentes conditions générales ont pour objet de définir les conditions techniques "
        "et financières dans lesquelles DAG Technologies s'engage à infogérer le ou les serveurs "
        "du Client. Le Client reconnaît expressément que la prestation d'infogérance ne participe"
        " aucunement au sens des présentes à la conception, au développement, et à la réalisation"
        " du site Internet du Client et de ses outils informatiques de gestion et "
        "d'administration.",
        "Scope of the service: the repository describes servers, not the client's sites.",
    ),
    Uncheckable(
        "3",
        "Le Client reconnaît avoir vérifié l'adéquation du service à ses besoins et avoir reçu de"
        " DAG Technologies toutes les informations et conseils qui lui étaient nécessaires pour "
        "souscrire au présent engagement en toute connaissance de cause.",
        LEGAL,
    ),
    Uncheckable(
        "4",
        "DAG Technologies procède à l'infogérance du ou des serveurs du Client suite à "
        "l'acceptation de la proposition commerciale, du contrat signé par le Client et du "
        "paiement correspondant de celui-ci.",
        "In part: CTR012 checks that the service starts once the contract is signed. The accepted"
        " proposal and the first payment are accounting records, not in git.",
    ),
    Uncheckable(
        "4",
        "Offre de support technique Premium auprès du centre technique OVH via le compte DAG "
        "Technologies « vl19538-ovh » disposant d'un interlocuteur dédié et prioritaire sur les "
        "demandes d'interventions",
        "Enforced by the reconciler: `dagsync apply` works through the OVH account of "
        "policies/dag.yaml (`ovh_account`) and refuses a server whose service is not in it. "
        "Support tickets are not configuration.",
    ),
    Uncheckable(
        "4",
        "Installation / Mise à jour de l'OS ; Installation / Mise à jour des prérequis "
        "applicatifs ; Montée en version de l'OS tant que les prérequis applicatifs du client ne "
        "sont pas impactés afin de garantir une sécurité maximale contre les failles systèmes ; "
        "Montée en version des prérequis applicatifs sur demande du client",
        "Operations, not configuration: the repository records the versions installed (`os`, "
        "`app_server`), not which versions are current or what an upgrade would impact.",
    ),
    Uncheckable(
        "4",
        "Installation / Mises à jour du serveur applicatif ; Gestion des Vhosts et des logs "
        "systèmes associés ; Installation / Mises à jour ; Création des bases de données ; "
        "Gestion des droits d'accès utilisateur sur ces base de données",
        "Enforced by the reconciler, which installs the declared software and creates the "
        "declared vhosts, databases and database users (`app_server`, `vhosts`, `databases`); "
        "updates are operations and logs are not configuration.",
    ),
    Uncheckable(
        "4",
        "Système anti-intrusion : analyse des fichiers systèmes pour détecter toute modification "
        "ou intrusion, analyse des logs applicatifs pour détecter les comportements anormaux : "
        "spams, scans, attaques, injections... ; Système antivirus : interventions préventives et"
        " curatives ; Suivi de la réputation des Ips publiques du client : intervention "
        "programmée en cas d'alerte",
        "In part: SEC005 checks that each protection is on. What the analyses find and the "
        "interventions that follow are operations.",
    ),
    Uncheckable(
        "4",
        "Les numéros de salle et baie peuvent être communiqué au client sur demande.",
        "Information given on request: rooms and racks are not recorded in the repository.",
    ),
    Uncheckable(
        "5",
        "Compte tenu du haut degré de technologie mis en œuvre pour l'exécution du service, objet"
        " du présent contrat, DAG Technologies est tenue à une obligation de moyens et s'engage à"
        " apporter tout le soin raisonnable et la diligence nécessaire à l'exécution d'un service"
        " de qualité conformément aux usages de la profession et à l'état de l'art.",
        LEGAL,
    ),
    Uncheckable(
        "5",
        "Le Client reconnaît toutefois par les présentes que les fluctuations de la bande "
        "passante et les aléas des fournisseurs d'accès au réseau Internet sont des éléments "
        "pouvant entraîner une discontinuité dans l'accès au serveur indépendante de la volonté "
        "de DAG Technologies et extérieure à ses moyens techniques.",
        LEGAL,
    ),
    Uncheckable(
        "5",
        "En cas d'absolue nécessité, DAG Technologies se réserve la possibilité d'interrompre le "
        "service pour procéder à une intervention technique afin d'en améliorer le "
        "fonctionnement. DAG Technologies avertira alors préventivement, dans la mesure du "
        "possible et dans un délai raisonnable, le Client en l'informant de la nature et de la "
        "durée probable de l'intervention, afin que le Client prenne ses dispositions.",
        "Interventions are decided and announced by DAG staff, not declared in git; `dagsync "
        "audit` records what each apply changed and when.",
    ),
    Uncheckable(
        "5",
        "DAG Technologies ne pourrait être tenue responsable : - de l'interruption du service si "
        "celle-ci lui est expressément demandée par une autorité administrative ou "
        "juridictionnelle compétente. Dans ce cas le Client ne pourra prétendre à aucune "
        "indemnité ni remboursement du service. […] du non-respect total ou partiel d'une "
        "obligation et/ou défaillance des opérateurs des réseaux de transport vers le monde "
        "Internet et en particulier de son ou ses fournisseurs d'accès. […] du contenu des "
        "informations, du son, du texte, des images, éléments de forme, données accessibles sur "
        "les sites du Client hébergés sur le serveur, transmises ou mises en ligne par le Client "
        "et ce à quelque titre que ce soit.",
        LEGAL,
    ),
    Uncheckable(
        "5",
        "si l'exécution du contrat, ou de toute obligation incombant à DAG Technologies au titre "
        "des présentes, est empêchée, limitée ou dérangée par un Cas de Force Majeure. Dans ce "
        "cas et sous réserve d'une prompte notification au Client, DAG Technologies sera "
        "dispensée de l'exécution de ses obligations dans la limite de cet empêchement, "
        "limitation ou dérangement. Dans l'hypothèse où les effets d'un Cas de Force Majeure "
        "devaient avoir une durée supérieure à 30 jours, à compter de sa notification par DAG "
        "Technologies au Client, le contrat pourra être résilié de plein droit à la demande de "
        "l'une ou l'autre partie, sans droit à indemnité de part et d'autre.",
        "In part: CTR016 checks a recorded termination for force majeure (`ground: "
        "force_majeure`, notified on `event_on`) against `force_majeure_days`. The event and the "
        "obligations it suspends are not configuration.",
    ),
    Uncheckable(
        "5",
        "Les réparations dues par DAG Technologies en cas de défaillance du service qui "
        "résulterait d'une faute établie à son encontre correspondront au préjudice direct, "
        "personnel et certain lié à la défaillance en cause. […] En aucun cas, DAG Technologies "
        "ne pourra être tenue responsable des préjudices indirects, c'est à dire tous ceux qui ne"
        " résultent pas directement et exclusivement de la défaillance partielle ou totale du "
        "service fourni par DAG Technologies, tels que préjudice commercial, perte de commandes, "
        "atteinte à l'image de marque, trouble commercial quelconque, perte de bénéfices ou de "
        "clients, pour lesquels le Client sera son propre assureur ou pourra contracter les "
        "assurances appropriées. Toute action dirigée contre le Client par un tiers constitue un "
        "préjudice indirect et par conséquent, n'ouvre pas droit à réparation. En tout état de "
        "cause, le montant des dommages et intérêts qui pourraient être mis à la charge de DAG "
        "Technologies, si sa responsabilité était engagée, sera limité au montant des sommes "
        "effectivement versées par le Client à DAG Technologies pour la part du service pour "
        "laquelle la responsabilité de DAG Technologies a été retenue.",
        LEGAL,
    ),
)
