from actwatch.cli import main

main()
