"""The shipped digit model (installed as package data ``digit_ocr.models``)."""
