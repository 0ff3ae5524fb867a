from lintel.cli import main

raise SystemExit(main())
