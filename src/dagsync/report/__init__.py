"""`dagsync report`: a client's monthly service report (JSON data, one self-contained HTML page)."""
