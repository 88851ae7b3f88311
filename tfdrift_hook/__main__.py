from __future__ import annotations

from tfdrift_hook.cli import main

if __name__ == "__main__":
    main()
