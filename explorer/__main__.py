from explorer.cli.main import main

raise SystemExit(main())
