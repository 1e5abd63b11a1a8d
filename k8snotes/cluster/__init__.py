"""Test clusters behind one small interface; they know nothing of pages."""
