from servanda.cli import main

main()
