"""Running a page's blocks: a shell session, output matching, background processes."""
