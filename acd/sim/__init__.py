"""acd.sim"""
