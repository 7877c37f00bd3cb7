"""Pure renderers: snapshot document -> bytes for each public representation."""
