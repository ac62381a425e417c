"""Language: Arabic normalisation and tokenisation, the gazetteer, and the region/place/actor classifier."""
