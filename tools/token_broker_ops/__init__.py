"""Operator actions on a deployed broker, shared by the ``token-broker`` CLI and the local stack: token
inspection and on-demand rotation. Not deployed: the Lambda layer holds only what the functions run, and this
package imports the layer, never the reverse.
"""
