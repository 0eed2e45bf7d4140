"""The contract domain (CGV Art. 3, 7, 9, 11): the French calendar (jours francs, ouvrables,
ouvrés), a contract's lifecycle, its deadlines, and billing."""
