"""The sentences of the CGV no rule of this repository checks, each with the reason or the place
where it is enforced instead (docs/rules.md, "Not checkable here").

Together with the rules' clauses and the policy terms' quotes, this table accounts for every
sentence of the CGV text (policies/cgv/2024-01.txt): a sentence is either checked by a rule,
computed by `dagsync contracts` or the calendar, enforced by the reconciler, or listed here
with why a configuration repository cannot check it. Sentences are verbatim; "[…]" marks a
cut and " ; " separates list items. tests/test_rules_catalogue.py checks both: every French
text is verbatim from the CGV, and every sentence of the CGV is cited somewhere.
"""

from __future__ import annotations

from dagsync.rules.uncheckable_articles_1_5 import ARTICLES_1_TO_5, LEGAL, Uncheckable

NOT_CHECKABLE: tuple[Uncheckable, ...] = (
    *ARTICLES_1_TO_5,
    Uncheckable(
        "6",
        "Le Client reconnaît son obligation de payer tous les montants dus à DAG Technologies au "
        "titre des présentes.",
        "In part: CTR004 and CTR005 check how and when the contract is paid, CTR011 records an "
        "unpaid renewal. Invoices and payments are accounting records.",
    ),
    Uncheckable(
        "6",
        "Le Client agit en tant qu'entité indépendante et assume en conséquence seul les risques "
        "et périls de son activité. Le Client est seul responsable des services et des sites "
        "Internet hébergés sur son espace Internet et notamment le contenu des informations "
        "transmises, diffusées ou collectées, leur exploitation et leur mise à jour, ainsi que de"
        " tous fichiers, inclus les fichiers d'adresses. Le Client s'engage à respecter les "
        "droits des tiers, notamment les droits de la personnalité, les droits de propriété "
        "intellectuelle tels que droits d'auteur, droits sur les brevets ou sur les marques. […] "
        "DAG Technologies ne peut que mettre en garde le Client sur les conséquences juridiques "
        "qui pourraient découler d'activités illicites sur le site.",
        LEGAL,
    ),
    Uncheckable(
        "6",
        "Le Client déclare en conséquence accepter pleinement toutes les obligations légales "
        "découlant de la propriété de ses services, DAG Technologies ne pouvant être recherchée "
        "ni inquiétée à cet égard pour quelque cause que ce soit, notamment en cas de violation "
        "de lois ou règlements applicables aux services du Client. Le non-respect par le Client "
        "des points visés ci-dessus et notamment toute activité susceptible d'engendrer une "
        "responsabilité civile et/ou pénale entraînera le droit pour DAG Technologies "
        "d'interrompre sans délai et sans mise en demeure préalable les services du Client et de "
        "résilier immédiatement et de plein droit le contrat, sans préjudice du droit à tous "
        "dommages et intérêts auxquels DAG Technologies pourrait prétendre.",
        "A decision about the client's behaviour, not about its configuration.",
    ),
    Uncheckable(
        "6",
        "Il en est de même si le Client utilise de manière avérée la technique du spamming sur le"
        " réseau Internet, lequel comportement entraînant sans préavis l'interruption du service "
        "et la résiliation des présentes.",
        "In part: MAIL004 keeps mass mailing off on shared mail and MAIL006 keeps sites off the "
        "shared SMTP servers. Spamming itself is behaviour, seen in mail logs.",
    ),
    Uncheckable(
        "6",
        "Dans ces hypothèses, le Client ne pourra prétendre au remboursement par DAG Technologies"
        " des sommes déjà versées.",
        LEGAL,
    ),
    Uncheckable(
        "6",
        "Le Client s'engage à respecter l'ensemble des prescriptions légales et réglementaires en"
        " vigueur, et en particulier celles relatives à l'informatique, aux fichiers et aux "
        "libertés, et notamment à faire toute déclaration des traitements auprès de la Commission"
        " Nationale de l'Informatique et des Libertés (C.N.I.L.).",
        "The client's legal declarations are not recorded in the repository.",
    ),
    Uncheckable(
        "6",
        "Le Client s'engage par ailleurs à prendre toutes les assurances nécessaires auprès d'un "
        "organisme notoirement solvable afin de couvrir tous les dommages qui lui seraient "
        "imputables dans le cadre du présent contrat ou de son exécution.",
        "The client's insurance is not recorded in the repository.",
    ),
    Uncheckable(
        "6",
        "Le Client garantit relever indemne DAG Technologies de toute action en revendication de "
        "tiers liée au contenu des informations transmises, diffusées, reproduites notamment "
        "celles résultant d'une atteinte aux droits de la personnalité, à un droit de propriété "
        "lié à un brevet, à une marque, à des dessins et modèles, à des droits d'auteur ou celles"
        " résultant d'un acte de concurrence déloyale ou parasitaire ou d'une atteinte à l'ordre "
        "public, aux règles déontologiques régissant Internet, aux bonnes mœurs, au respect de la"
        " vie privée (droit à l'image, secret de la correspondance...) ou aux dispositions du "
        "Code Pénal. A ce titre, le Client indemniserà DAG Technologies de tous frais, charges et"
        " dépenses que celle-ci aurait à supporter de ce fait, y compris les honoraires et frais "
        "raisonnables des conseils de DAG Technologies, même par une décision de justice non "
        "définitive. […] Le Client s'engage à régler directement à l'auteur de la réclamation "
        "toute somme que celui-ci exigerait de DAG Technologies. En outre, le Client s'engage à "
        "intervenir sur demande de DAG Technologies à toute instance engagée contre cette "
        "dernière ainsi qu'à garantir DAG Technologies de toutes les condamnations qui seraient "
        "prononcées contre elle à cette occasion. En conséquence, le Client s'engage à faire son "
        "affaire personnelle de toute réclamation et/ou procédure quelle qu'en soit la forme, "
        "l'objet ou la nature qui serait formée contre DAG Technologies et qui se rattacherait "
        "aux obligations mises à la charge du Client au titre du présent contrat.",
        LEGAL,
    ),
    Uncheckable(
        "6",
        "DAG Technologies dégage toute responsabilité pour toute utilisation illicite ou "
        "frauduleuse des mots de passe mis à la disposition du Client. […] Toute suspicion d'une "
        "divulgation, intentionnelle ou non, des mots de passe fournis, engage la responsabilité "
        "unique du Client à l'exclusion de celle DAG Technologies. […] Le Client supportera seul "
        "les conséquences du défaut de fonctionnement de son espace Internet consécutif à toute "
        "utilisation, par les membres de son personnel ou par toute personne auquel le Client "
        "aura fourni son (ou ses) mot(s) de passe. De même, le Client supporte seul les "
        "conséquences de la perte du ou des mots de passe précités.",
        LEGAL + " What the repository checks: no password is in git (ACC004).",
    ),
    Uncheckable(
        "6",
        "Le Client s'engage à informer DAG Technologies dans les 48 heures de toute modification "
        "concernant sa situation, et dans les 24 heures de toute perte éventuelle des mots de "
        "passe.",
        "The client's notices are emails or calls: the repository records the new situation "
        "(contacts, accounts, keys), not when it changed nor when DAG was told, so the delays "
        "cannot be checked here.",
    ),
    Uncheckable(
        "6.1",
        "De ne procéder à aucune mise en production les veilles de weekend et jours fériés",
        "Enforced by the calendar, at the time of the change: `dagsync validate --changed-since` "
        "and `dagsync apply` warn (FRZ001) when a production server changes on the eve of a "
        "weekend or public holiday.",
    ),
    Uncheckable(
        "6.1",
        "De prévenir DAG Technologies à minima 10 jours ouvrés à l'avance en cas d'opération "
        "(notamment publicitaire ou commerciale) qui amènerait une montée charge temporaire et "
        "exceptionnel du serveur",
        "Traffic peaks are announced by email and not recorded in the repository; "
        "`dagsync.contract.calendar.traffic_peak_notice_deadline` gives the last day to announce one.",
    ),
    Uncheckable(
        "6.1",
        "En cas de dépassement de cette limite, DAG Technologies avertira le Client afin qu'il "
        "procède à la suppression des emails en surnombre",
        "Computed from mailbox usage readings, not from the configuration: `dagsync contracts` "
        "lists the warning and, after `mail_overage_grace_days`, the slices billed (MAIL002 warns"
        " when the configured quota itself is above the included space).",
    ),
    Uncheckable(
        "7",
        "Cela entraînera l'exigibilité des sommes liées à la période d'utilisation, sachant que "
        "tout mois entamé sera dû entièrement",
        "Computed: `dagsync contracts` gives the amount due for a recorded termination.",
    ),
    Uncheckable(
        "7",
        "En cas de manquement par l'une des parties à l'une ou l'autre de ses obligations au "
        "titre du contrat, non réparé dans un délai de 7 jours ouvrables à compter de la première"
        " présentation de la lettre recommandée avec demande d'avis de réception adressée par la "
        "partie plaignante notifiant les manquements en cause, le contrat sera résilié de plein "
        "droit, sans préjudice de tous dommages et intérêts éventuels qui pourraient être "
        "réclamés à la partie défaillante.",
        "In part: CTR017 checks a recorded termination for breach (`ground: breach`, letter "
        "first presented on `event_on`) against `cure_jours_ouvrables`. Breaches themselves, and "
        "damages, are not configuration.",
    ),
    Uncheckable(
        "7",
        "Si dans ces conditions la résiliation du contrat est à l'initiative de DAG Technologies,"
        " le Client ne pourra prétendre au remboursement des sommes déjà versées.",
        LEGAL,
    ),
    Uncheckable(
        "8",
        "Les tarifs du matériel (machines, serveurs, disques durs...), des services (bande "
        "passante, noms de domaine, adresses IP, certificat SSL...) et de l'énergie peuvent "
        "varier en fonction de la tarification de leurs fournisseurs respectifs. […] En cas "
        "d'augmentation substantielle des tarifs des fournisseurs, DAG Technologies pourra "
        "procéder à des factures de régulation en cours de contrat sans que cela ne remette en "
        "cause le contrat conclu en cours.",
        "Regulation invoices for supplier prices are invoices, not the contract's monthly price: "
        "they are not recorded here, and CTR010 does not apply to them.",
    ),
    Uncheckable(
        "8",
        "émanant d'un établissement bancaire affilié au système SWIFT",
        "In part: CTR004 checks the means of payment; the client's bank is not recorded.",
    ),
    Uncheckable(
        "8",
        "Le Client est seul responsable du paiement de l'ensemble des sommes dues au titre du "
        "présent contrat. […] Sauf report sollicité à temps et accordé formellement par DAG "
        "Technologies de manière écrite, le défaut total ou partiel de paiement à l'échéance de "
        "toute somme due au titre du contrat entraînera de plein droit, et sans préjudice d'user "
        "de la faculté de résiliation du contrat stipulée à l'article 7 : - l'exigibilité "
        "immédiate de toutes les sommes restant dues par le Client au titre du contrat. - la "
        "suspension du service.",
        "In part: an unpaid renewal is recorded (`contract.renewal_unpaid`, CTR011) and `dagsync "
        "contracts` gives the service stop and the definitive suspension "
        "(`unpaid_suspension_days` later). Other unpaid invoices and agreed postponements are "
        "accounting records.",
    ),
    Uncheckable(
        "8",
        "En cas d'incident et/ou retard de paiement à l'échéance, DAG Technologies ne pourra "
        "effectuer le renouvellement du service et notifiera au Client par courriers et/ou "
        "E-mails successifs de rappel, l'obligation d'acquitter le prix du renouvellement des "
        "prestations d'infogérance concernées sous peine d'arrêt du service à la date "
        "anniversaire du contrat et de la suspension définitive de l'infogérance 15 jours après "
        "cette date si le paiement du renouvellement n'a pas été régularisé entre temps. Le "
        "Client sera alors informé de la suspension de l'infogérance pour défaut de paiement.",
        "In part: CTR011 checks the recorded unpaid anniversary and `dagsync contracts` gives the"
        " stop and suspension dates (`unpaid_suspension_days`); the reminders and the suspension "
        "notice are sent by DAG staff.",
    ),
    Uncheckable(
        "8",
        "Tout défaut de paiement ou paiement irrégulier, c'est à dire, notamment, d'un montant "
        "erroné, ou incomplet, ou effectué par un moyen ou une procédure non acceptée par DAG "
        "Technologies, sera purement et simplement considéré comme nul et provoquera le rejet par"
        " DAG Technologies de la demande de création ou de renouvellement du service.",
        "Payments are accounting records, not in git.",
    ),
    Uncheckable(
        "8",
        "A défaut, le Client sera réputé avoir accepté les nouveaux tarifs.",
        LEGAL + " `dagsync contracts` gives the last day of the one-month window.",
    ),
    Uncheckable(
        "8",
        "DAG Technologies se réserve le droit de répercuter, sans délai sur les contrats en cours"
        " d'exécution, toute nouvelle taxe ou toute augmentation de taux des taxes existantes.",
        "Prices are recorded before tax (hors taxes); taxes appear on invoices only.",
    ),
    Uncheckable(
        "9",
        "Le Client convient que DAG Technologies peut, de plein droit, modifier son service sans "
        "autre formalité que de l'en informer par courrier et/ou E-mail et de porter ces "
        "modifications dans les conditions générales.",
        "A new CGV version is a new policies/cgv/<version>.yaml; each contract stays judged by "
        "the version it names until it is changed.",
    ),
    Uncheckable(
        "9",
        "Dans cette hypothèse, le Client peut, en dérogation à l'article 7 des conditions "
        "générales, résilier le contrat dans un délai de trente jours à compter de l'entrée en "
        "vigueur de ces modifications. A défaut, le Client sera réputé avoir accepté les "
        "nouvelles conditions générales.",
        "In part: CTR015 checks a recorded termination for a change of the service (`ground: "
        "service_change`, in effect since `event_on`) against `service_change_termination_days`."
        " The client's acceptance of the new CGV is legal.",
    ),
    Uncheckable(
        "10",
        "DAG Technologies pourra à l'occasion de manifestations, dans les colloques et "
        "publications spécialisées sur les marchés professionnels, se prévaloir des services "
        "fournis au Client ainsi que sur ses documents commerciaux et/ou sa plaquette.",
        LEGAL,
    ),
    Uncheckable(
        "11",
        "Ce contrat de prestations d'infogérance est soumis à la loi française. Sous réserve de "
        "la qualité de commerçant du Client, tout litige relatif à l'interprétation ou à "
        "l'exécution des présentes conditions générales sera de la compétence exclusive du "
        "Tribunal de Commerce de Chambéry.",
        LEGAL,
    ),
)
