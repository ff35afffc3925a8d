"""DL-Art-School's image datasets: its chunked tile folders, image folders and the option keys they share."""
