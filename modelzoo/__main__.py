from modelzoo.cli import main

raise SystemExit(main())
