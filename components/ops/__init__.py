"""Live commands for operators and pipelines (`python -m components.ops.<command>`); never imported by the program.

They talk to GitLab with python-gitlab, take credentials from the environment only, and never print them.
"""
