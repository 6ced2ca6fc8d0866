from cutout.cli import main

main()
