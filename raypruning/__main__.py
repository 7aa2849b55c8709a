from raypruning.cli import main; raise SystemExit(main())
