"""acd.api"""
