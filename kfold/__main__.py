from kfold.cli import main

main()
