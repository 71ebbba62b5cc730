"""acd.routing"""
